# The zhicheng image: the worker, the portal and the migrations (docker-compose.yml).
FROM python:3.11.11-slim-bookworm

# WeasyPrint's system libraries, a CJK font and tesseract with its Chinese model for the OCR
# of masked copies (scripts/lib.sh DOCUMENT_PACKAGES).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk \
        tesseract-ocr tesseract-ocr-chi-sim \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first, from the lock alone (scripts/lock.sh writes it from pyproject.toml): a
# layer that changes only with requirements.lock, exact pins, hashes checked. Then the code,
# installed without dependencies. Editable: settings.ROOT (templates/, migrations/, config/)
# is the source tree, so the `zhicheng` command must import /app's modules, not copies.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY . .
RUN pip install --no-deps -e "." \
    && useradd --system --uid 10001 zhicheng && mkdir -p /data/publication var \
    && chown -R zhicheng /data var
USER zhicheng
# settings.py reads the environment (docker-compose.yml env_file: .env); no .env in the image.
CMD ["python", "worker.py"]
