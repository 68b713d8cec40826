"""``mgc serve``: the pages over a tag run (``server``) and their static files (``static/``)."""
