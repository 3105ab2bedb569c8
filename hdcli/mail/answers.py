"""A customer's yes or no, read from the start of a mail body.

Approvers answer approval requests and customers answer service reports by mail; both are
read by :func:`decision_word`, which accepts only a clear, unhedged first word.
"""

from __future__ import annotations

import re

YES_WORDS = frozenset({"genehmigt", "freigegeben", "ja", "approved", "yes"})
NO_WORDS = frozenset({"abgelehnt", "nein", "denied", "no"})
# A yes followed by one of these in the same sentence is not a clear answer
# ("Ja, aber erst morgen", "Yes, but not the admin rights").
_HEDGES = frozenset(
    {
        "nicht",
        "kein",
        "keine",
        "keinen",
        "aber",
        "jedoch",
        "erst",
        "not",
        "but",
        "unless",
        "however",
        "only",
        "nur",
        "falls",
        "wenn",
        "if",
    }
)
# "No problem" and "kein Problem" mean yes, but are not the clear words the request asked for.
_NO_IDIOMS = frozenset({"problem", "problemo", "worries", "thanks", "danke"})
_SALUTATION = re.compile(
    r"^(hallo|hello|hi|hey|dear|guten\s+(tag|morgen|abend)|sehr\s+geehrte[rs]?|liebe[rs]?|moin|"
    r"servus|good\s+(morning|afternoon|evening))\b[^.!?]*[,!]?$",
    re.IGNORECASE,
)
_QUOTE_INTRO = re.compile(
    r"^(am|on)\b.*\b(schrieb|wrote)\b.*:$|^-+\s*(original|ursprüngliche)", re.IGNORECASE
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def decision_word(body: str) -> bool | None:
    """Read a clear yes (True) or no (False) from the start of a mail body; None if unclear.

    Quoted lines (``>``) and a quote introduction (``Am … schrieb …:``) end the reply; a leading
    one-line salutation (``Hallo Herr Meier,``) is skipped. The first word must be one of
    :data:`YES_WORDS` or :data:`NO_WORDS` (any case); a yes must not be hedged in the rest of its
    sentence (``aber``, ``nicht``, ``but``, ``not`` …), while a hedged no stays a no.
    """
    lines: list[str] = []
    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith(">") or _QUOTE_INTRO.match(line):
            break
        if line:
            lines.append(line)
    if lines and _SALUTATION.match(lines[0]) and len(lines[0]) <= 60:
        lines = lines[1:]
    if not lines:
        return None
    text = " ".join(lines)
    sentence = re.split(r"[.!?;:\n]", text, maxsplit=1)[0]
    words = [w.lower() for w in _WORD.findall(sentence)]
    if not words:
        return None
    first, rest = words[0], words[1:]
    if first in YES_WORDS:
        answer = True
    elif first in NO_WORDS:
        if rest and rest[0] in _NO_IDIOMS:
            return None
        answer = False
    else:
        return None
    # Only a yes can be hedged into something else; a hedged no is still no approval.
    if answer and any(w in _HEDGES for w in rest):
        return None
    return answer
