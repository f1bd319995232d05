"""The screening domain core: the record, the versioned protocol definition and the 19 criteria."""
