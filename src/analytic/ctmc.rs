//! Exact continuous-time Markov chains of small instances (filled in below).
