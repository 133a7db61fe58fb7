"""The EU FMD pack state each reason a unit is taken out of the supply chain means, as the one
reason vocabulary says (`serialtrail_contracts.exception_vocabulary`)."""

from __future__ import annotations

from serialtrail_contracts.exception_vocabulary import VOCABULARY, EuFmdPackState
from serialtrail_contracts.exceptions import DecommissionReason

# Several exception types share a reason (a misprint, a wrong label and a rework are each a
# line reject); they agree on its pack state, which the table test checks.
STATE_OF_REASON: dict[DecommissionReason, EuFmdPackState] = {
    meaning.decommission: meaning.eu_fmd_state
    for meaning in VOCABULARY.values()
    if meaning.decommission is not None and meaning.eu_fmd_state is not None
}


def state_of(reason: DecommissionReason) -> EuFmdPackState:
    """A reason no exception type names (an unreadable pack taken out as such) is a line reject."""
    return STATE_OF_REASON.get(reason, EuFmdPackState.destroyed)
