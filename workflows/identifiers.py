"""One spelling per identifier, whichever door it came in by.

Case numbers and codes are copied out of hospital systems, Excel and chat messages, which add characters a person
cannot see: zero-width spaces, a byte-order mark, no-break or full-width spaces, full-width letters and digits.
Left in, they make "ZY001" and "ZY001\u200b" two case numbers, so a duplicate looks new and a code looks unknown.
Every identifier is passed through `normalise_identifier` before it is checked, compared or stored.
"""

import unicodedata

_SPACE = "\u0020"


def _invisible(char: str) -> bool:
    """Format characters (zero-width space and joiners, BOM, bidi marks, soft hyphen) and every space other
    than the plain one (no-break, full-width, thin...): none of them can be told apart by a reader."""
    category = unicodedata.category(char)
    return category == "Cf" or (category == "Zs" and char != _SPACE)


def normalise_identifier(text: str) -> str:
    """Invisible characters removed, then NFKC (full-width "ＺＹ００１" becomes "ZY001"), then trimmed.

    Removal comes first because an invisible character between a letter and a combining mark stops NFKC from
    composing them; the result is a fixed point, so normalising twice changes nothing.
    """
    if text.isascii():  # most cells: nothing invisible, and NFKC leaves ASCII as it is
        return text.strip()
    visible = "".join(char for char in text if not _invisible(char))
    return unicodedata.normalize("NFKC", visible).strip()
