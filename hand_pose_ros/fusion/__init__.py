"""Multi-view fusion: per-view 2D hand detections → absolute 3D hands in the world frame."""
