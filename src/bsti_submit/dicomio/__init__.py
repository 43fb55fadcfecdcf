"""DICOM input and output: reading elements cheaply, telling DICOM by content, the Part 10
writer."""
