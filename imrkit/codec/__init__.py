"""Reading and writing compressed (MPEG-4 Part 2) video: SPEC section 1."""
