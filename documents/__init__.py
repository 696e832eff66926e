"""Documents (R21, R23): rendering them and the publication store that keeps them."""
