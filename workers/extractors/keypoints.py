"""Keypoint verification of a near-duplicate candidate: how many ORB keypoints of one picture map onto
the other under a single homography (OpenCV's RANSAC). Unrelated pictures that happen to share a hash
rarely share more than a handful; a copy, cropped, captioned or shrunk, keeps dozens."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# Both pictures are compared at most this many pixels on their longer side.
WORKING_SIDE = 480
FEATURES = 1000
# Lowe's ratio: a keypoint's best match must be clearly better than its second best.
RATIO = 0.8
REPROJECTION_PIXELS = 3.0
# A homography that shrinks or stretches an area more than this many times is not a copy's.
MAX_AREA_CHANGE = 16.0
MIN_MATCHES_FOR_RANSAC = 8

# Keypoint positions and their ORB descriptors; None for a picture with too few keypoints.
Described = tuple[np.ndarray, np.ndarray] | None


def grey_array(picture: Image.Image) -> np.ndarray:
    """The picture in grey, its longer side WORKING_SIDE: a small one (a collage's quarter) is enlarged, so
    that both pictures of a pair show their detail at one scale to ORB's pyramid, which only shrinks."""
    grey = picture.convert("L")
    scale = WORKING_SIDE / max(grey.size)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    return np.asarray(grey.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def descriptors(picture: Image.Image) -> Described:
    """ORB keypoint positions and descriptors of a picture; None when it has too few to compare."""
    orb = cv2.ORB_create(nfeatures=FEATURES)
    points, described = orb.detectAndCompute(grey_array(picture), None)
    if described is None or len(points) < MIN_MATCHES_FOR_RANSAC:
        return None
    return np.float32([p.pt for p in points]), described


def inliers(query: Image.Image, stored: Image.Image) -> int:
    """How many keypoints of `query` land where a single homography puts them in `stored`."""
    return described_inliers(descriptors(query), descriptors(stored))


def described_inliers(first: Described, second: Described) -> int:
    """inliers() over keypoints already described (a picture checked against many keeps its own)."""
    if first is None or second is None:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(first[1], second[1], k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_MATCHES_FOR_RANSAC:
        return 0
    source = first[0][[m.queryIdx for m in good]]
    target = second[0][[m.trainIdx for m in good]]
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, REPROJECTION_PIXELS)
    if homography is None or not _plausible(homography):
        return 0
    return int(mask.sum())


def _plausible(homography: np.ndarray) -> bool:
    """Whether the mapping keeps a picture the right way round at a sane scale (no fold, no collapse)."""
    determinant = float(np.linalg.det(homography[:2, :2]))
    return 1 / MAX_AREA_CHANGE <= determinant <= MAX_AREA_CHANGE
