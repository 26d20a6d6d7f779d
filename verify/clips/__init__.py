"""Clips inside videos: each video's timeline of frame hashes, the search that places a clip in an
archived video, and the "clip of" flags that say where ("this 14 s clip is 01:32–01:46 of the video
collected for case #3").

The timelines are made by workers/extractors/video_timeline.py; this package stores and searches them.
"""

# The kind of flag this package writes (and alone rewrites).
CLIP_OF = "clip-of"
