//! Storage operations of this family (filled in by its issue).
