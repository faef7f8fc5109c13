"""Attribution metrics."""
