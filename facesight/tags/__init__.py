"""Face tags other tools wrote: MWG and Microsoft Photo XMP regions, Picasa's ``.picasa.ini``."""
