//! Real OpenBao clusters and object-store servers on 127.0.0.1 for tests; every process stops on drop.
