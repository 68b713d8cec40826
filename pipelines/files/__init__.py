"""A file's own tags, no Beam: reading them, writing genres into them (write-back), the atomic
replace both write-back and undo go through, and undo."""
