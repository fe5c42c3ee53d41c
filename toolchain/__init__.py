"""edgepack's toolchain: the `edgepack` CLI and its commands, build orchestration, variant selection,
batch scoring, the demo server and recording parity results. The only layer that imports both
`edgepack.converters` and `edgepack.parity`."""
