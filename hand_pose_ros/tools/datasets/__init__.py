"""Converters for recorded datasets with ground truth (read from ../shared, never copied into the repository)."""
