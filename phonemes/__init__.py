"""Text -> words -> ARPAbet pronunciations -> phone timings (forced alignment, TextGrid, MFA)."""
