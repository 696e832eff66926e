// The masking tool (templates/portal/applicant_mask.html): boxes dragged on each page's
// canvas, sent as JSON in the form's `boxes` field (portal/masking.py blacks them out).
// A file of its own: the Content-Security-Policy runs no inline script (script-src 'self').
(function () {
  "use strict";
  var boxes = [];  // {page, x, y, w, h} in the page image's own pixels
  var pages = [];
  var field = document.getElementById("boxes");
  var count = document.getElementById("box-count");
  var note = document.getElementById("box-note");
  var form = document.getElementById("mask-form");
  // R11: the smallest box that counts, as the server checks it (portal/masking.py
  // minimum_box_side): a percentage of the page image's shorter side, rounded up, at least
  // a number of pixels.
  var minPercent = Number(form.dataset.minPercent), minPixels = Number(form.dataset.minPixels);
  function least(width, height) {
    return Math.max(minPixels, Math.ceil(Math.min(width, height) * minPercent / 100));
  }

  function changed() {
    field.value = JSON.stringify(boxes);
    count.textContent = boxes.length;
    note.textContent = "";
    pages.forEach(function (p) { p.draw(null); });
  }

  document.querySelectorAll(".page").forEach(function (element) {
    var page = Number(element.dataset.page);
    var img = element.querySelector("img");
    var canvas = element.querySelector("canvas");
    var ctx = canvas.getContext("2d");
    var start = null;

    function scale() { return img.naturalWidth / img.clientWidth; }
    function at(event) {
      var r = canvas.getBoundingClientRect();
      return {x: Math.min(Math.max(event.clientX - r.left, 0), r.width),
              y: Math.min(Math.max(event.clientY - r.top, 0), r.height)};
    }
    function draw(dragging) {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      var s = scale();
      ctx.fillStyle = "rgba(0, 0, 0, 0.85)";
      boxes.forEach(function (b) {
        if (b.page === page) { ctx.fillRect(b.x / s, b.y / s, b.w / s, b.h / s); }
      });
      if (dragging) {
        ctx.strokeStyle = "#d33"; ctx.lineWidth = 2;
        ctx.strokeRect(dragging.x, dragging.y, dragging.w, dragging.h);
      }
    }
    function rect(a, b) {
      return {x: Math.min(a.x, b.x), y: Math.min(a.y, b.y),
              w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y)};
    }
    function fit() {
      canvas.width = img.clientWidth; canvas.height = img.clientHeight;
      canvas.style.width = img.clientWidth + "px"; canvas.style.height = img.clientHeight + "px";
      draw(null);
    }
    canvas.addEventListener("pointerdown", function (e) {
      start = at(e); canvas.setPointerCapture(e.pointerId); e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (start) { draw(rect(start, at(e))); }
    });
    canvas.addEventListener("pointerup", function (e) {
      if (!start) { return; }
      var r = rect(start, at(e)), s = scale();
      start = null;
      if (r.w < 3 || r.h < 3) { draw(null); return; }  // a click, not a box
      var x = Math.floor(r.x * s), y = Math.floor(r.y * s);
      var w = Math.min(Math.ceil((r.x + r.w) * s), img.naturalWidth) - x;
      var h = Math.min(Math.ceil((r.y + r.h) * s), img.naturalHeight) - y;
      var side = least(img.naturalWidth, img.naturalHeight);
      if (w < side || h < side) {  // refused by the server too: not counted
        draw(null);
        note.textContent = "框选区域过小，未计入：每处的宽和高都至少要" + side + "像素，请重新框选。";
        return;
      }
      boxes.push({page: page, x: x, y: y, w: w, h: h});
      changed();
    });
    if (img.complete && img.naturalWidth) { fit(); } else { img.addEventListener("load", fit); }
    window.addEventListener("resize", fit);
    pages.push({draw: draw});
  });

  document.getElementById("undo").addEventListener("click", function () { boxes.pop(); changed(); });
  document.getElementById("clear").addEventListener("click", function () { boxes = []; changed(); });
  form.addEventListener("submit", function (e) {
    if (!boxes.length) { e.preventDefault(); alert("请先框选本人姓名和工作单位。"); }
  });
})();
