"""R14: the employer's recommendation."""

# R14: the opinion the notice prescribes, word for word.
RECOMMENDATION_OPINION = "本单位已对提供的申报材料逐一审核，真实准确，同意推荐"
