"""Expert pool screens (administrators edit; the review office and auditors read)."""
from __future__ import annotations
