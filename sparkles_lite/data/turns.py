"""Split a dialogue into one training example per assistant answer, as Sparkles trains on turns."""

from __future__ import annotations

import copy

from sparkles_lite.data.schema import ASSISTANT, USER, Dialogue, ImageRef, Message, TurnExample, placeholder_ids


def history_images(history: list[Message]) -> list[ImageRef]:
    """Images in the order their placeholders occur: the order their tokens are spliced in.

    Raises ValueError naming the message and id when a placeholder has no image or an image has
    no placeholder, because either would shift every later image onto the wrong slot.
    """
    known: dict[str, ImageRef] = {}
    for m in history:
        for ref in m.images:
            known.setdefault(ref.image_id, ref)
    ordered: dict[str, ImageRef] = {}
    for j, m in enumerate(history):
        for image_id in placeholder_ids(m.content):
            if image_id not in known:
                raise ValueError(f"message {j}: placeholder IMAGE#{image_id} has no entry in any message's images")
            if image_id in ordered:
                raise ValueError(f"message {j}: IMAGE#{image_id} has a second placeholder")
            ordered[image_id] = known[image_id]
    missing = [i for i in known if i not in ordered]
    if missing:
        raise ValueError(f"image(s) {', '.join(missing)} listed in images but without a placeholder")
    return list(ordered.values())


def dialogue_to_turns(d: Dialogue) -> list[TurnExample]:
    """Turn k: every message before the k-th answer (ending with a user message) -> that answer.

    Works for any even number of strictly alternating messages starting with the user.
    """
    msgs = d.messages
    if not msgs or len(msgs) % 2:
        raise ValueError(f"a dialogue needs a positive even number of messages, got {len(msgs)}")
    for j, m in enumerate(msgs):
        expected = USER if j % 2 == 0 else ASSISTANT
        if m.role != expected:
            raise ValueError(f"message {j}: expected role {expected!r}, got {m.role!r}")
    turns = []
    for k in range(1, len(msgs), 2):
        history = copy.deepcopy(msgs[:k])
        turns.append(TurnExample(history=history, answer=msgs[k].content, images=history_images(history),
                                 meta={**d.meta, "turn": k // 2 + 1}))
    return turns
