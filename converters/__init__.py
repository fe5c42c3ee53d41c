"""edgepack."""
