"""Variant selection for `edgepack build --quantize`: build, check and keep quantized variants."""
