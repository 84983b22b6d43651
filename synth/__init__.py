"""synth: data I/O and generative models. Import what you need from the subpackages."""
