"""Zoom's error messages as a French-language account receives them.

Zoom answers in the account's language (a real account got "Esta grabación no existe."), while
codes, statuses and headers stay the same. With ``SandboxConfig.language = "fr"`` every error
message the sandbox sends goes through ``translate``: a message not in the table becomes a
generic French sentence, so no English wording can reach zoomguard.
"""

from __future__ import annotations

import re
from typing import Final

# English message pattern -> French message; groups are carried over in order.
_MESSAGES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (r"Meeting does not exist: (.*)\.", "La réunion n'existe pas : {0}."),
        (r"Meeting does not exist\.", "La réunion n'existe pas."),
        (r"There is no recording for this meeting\.", "Cet enregistrement n'existe pas."),
        (r"User does not exist: (.*)\.", "L'utilisateur n'existe pas : {0}."),
        (r"Invalid access token\.", "Jeton d'accès non valide."),
        (r"Access token is expired\.", "Le jeton d'accès a expiré."),
        (
            r"Invalid access token, does not contain scopes:\[(.*)\]",
            "Jeton d'accès non valide, il ne contient pas les autorisations :[{0}]",
        ),
        (
            r"The next page token is invalid or expired\.",
            "Le jeton de page suivante est non valide ou a expiré.",
        ),
        (
            r"You have reached the maximum per-second rate limit.*",
            "Vous avez atteint la limite de requêtes par seconde de cette API. "
            "Réessayez plus tard.",
        ),
        (
            r"You have exceeded the daily rate limit \((\d+)\).*",
            "Vous avez dépassé la limite quotidienne ({0}) de requêtes de création ou de mise à "
            "jour de réunion pour cet utilisateur. Reprise possible à 00:00:00 GMT.",
        ),
        (r"Validation Failed\.", "La validation a échoué."),
        (r"Invalid field: (.*)\.", "Champ non valide : {0}."),
    )
)


def translate(message: str, code: object) -> str:
    for pattern, french in _MESSAGES:
        match = pattern.fullmatch(message)
        if match is not None:
            return french.format(*match.groups())
    return f"La requête n'a pas abouti (code {code})."
