"""What the user sees in a terminal: native start-up noise filtered, progress bars."""
