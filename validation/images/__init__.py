"""Checks on synthetic labelled images: recognisable, faithful, diverse, not memorised, fair to classes.

Images are float tensors (N, C, H, W) in [-1, 1] with LongTensor labels (N,). Nothing is downloaded:
the feature space is a small CNN trained here on the real training images
(`validation.image_metrics.fit_classifier`, which also holds the measures), and FID, KID and PRDC
compare the penultimate features of holdout images (unseen by the classifier, like
the synthetic ones) with those of synthetic images, on equal-sized seeded samples.

- quality: conditional accuracy (synthetic images recognised as the class they were asked for) and
  per class, FID, KID, precision / recall / density / coverage (Naeem et al. 2020), coverage per class;
- privacy: each synthetic image's pixel distance to its nearest training image, against the holdout
  images' distances (the honest baseline), exact and near duplicates of training images;
- bias: per-class counts against the asked or real shares, the spread of per-class accuracy, and
  per group of the sensitive per-image columns: counts, and accuracy and coverage, where a group the
  generator served worse than the others (against the holdout's rate on that group) fails.
A measure fails only when it is beyond its limit by more than sampling noise explains.

Every check is `check(real, synthetic, holdout, *, contract, thresholds, ...)`: `real`, `synthetic`
and `holdout` are `ImageSide`s (real = the training images), `contract` an `ImageContract`, and
`thresholds` the spec's section (schemas.image_spec). Modules: `sides`, `training`, `quality`,
`privacy`, `bias`.
"""

from __future__ import annotations

from validation.images import bias, privacy, quality, training
from validation.images.sides import ImageContract, ImageSide

__all__ = ["ImageContract", "ImageSide", "bias", "privacy", "quality", "training"]
