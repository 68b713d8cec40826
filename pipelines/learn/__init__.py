"""Your library teaches mgc: its own genres as labels (``train --from-tags``) and as a
yardstick (the agreement between the files' genres and mgc's)."""
