"""Data envelopment analysis (DEA), batched over leading (draw) dimensions."""
