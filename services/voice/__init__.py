"""Voice identity service: speaker verification with AS-Norm and AASIST anti-spoofing."""
