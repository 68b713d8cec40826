"""Audio in, no Beam: which inputs are audio files, streaming decode to mono at the model's
rate, and the stream of analysis windows cut from it."""
