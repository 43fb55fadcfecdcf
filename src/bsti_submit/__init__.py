"""bsti-submit: de-identify DICOM at source and submit it to the BSTI COVID-19 collection."""

__version__ = "0.1.0"
