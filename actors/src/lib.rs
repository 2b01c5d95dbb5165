//! Actors and their pure decision logic.
