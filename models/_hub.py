"""Hugging Face Hub helpers shared by every wrapper: fetch a file, resolve a branch to its commit,
and find where `from_pretrained` should read.

Each returns the commit really used, so a result names the exact files even when a repository is
followed at a branch. `huggingface_hub` is imported inside the functions, when a model loads.
"""

from __future__ import annotations

import re
from pathlib import Path

from audioprobe.errors import AudioprobeError

_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(revision: str | None) -> bool:
    """Whether `revision` is a full 40-hex commit (a pin), not a branch or tag."""
    return bool(revision) and _COMMIT.fullmatch(revision) is not None


def hub_download(repo_id: str, filename: str, revision: str | None, repo_type: str = "model") -> tuple[Path, str]:
    """Download (or find in the local Hub cache) one file; return its path and the commit used.

    The commit is read from the snapshot folder the Hub client resolved, so a result records what
    was really loaded even when `revision` is a branch name. `repo_type` is "space" or "dataset"
    for weights mirrored outside a model repository.
    """
    from huggingface_hub import hf_hub_download

    try:
        path = Path(hf_hub_download(repo_id, filename, revision=revision, repo_type=repo_type))
    except Exception as exc:  # the Hub client raises many types; all mean "could not fetch"
        raise AudioprobeError(
            f"could not fetch {filename!r} from the Hugging Face Hub repository {repo_id!r} "
            f"(revision {revision}): {exc}. Check your network, or pass a local copy with "
            f"--model-args checkpoint=PATH."
        ) from None
    commit = path.parent.name
    for parent in path.parents:  # .../snapshots/<commit>/<file, maybe in subfolders>
        if parent.parent.name == "snapshots":
            commit = parent.name
            break
    return path, commit


def resolve_commit(repo_id: str, revision: str | None, repo_type: str = "model") -> str:
    """The commit `revision` (default: the default branch) of a Hub repository points at now.

    A pinned commit is returned as is. Otherwise the Hub is asked, and when it cannot be reached
    (or `HF_HUB_OFFLINE=1`), the branch as the local Hub cache last saw it. Used for the run
    identity of an unpinned repository, so that a moved branch never reuses activations cached
    for an older commit; nothing is downloaded.
    """
    if is_commit(revision):
        return revision
    from huggingface_hub import HfApi, constants
    from huggingface_hub.file_download import repo_folder_name

    ref = revision or "main"
    reason = "offline (HF_HUB_OFFLINE=1)"
    if not constants.HF_HUB_OFFLINE:
        try:
            return HfApi().repo_info(repo_id, revision=ref, repo_type=repo_type).sha
        except Exception as exc:  # network, auth or missing repo: fall back to the cache
            reason = f"the Hub answered: {exc}"
    cached = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type=repo_type) / "refs" / ref
    if cached.is_file():
        return cached.read_text().strip()
    raise AudioprobeError(
        f"cannot tell which commit {ref!r} of the Hugging Face Hub repository {repo_id!r} is: {reason}, and the "
        f"local Hub cache has no copy of it. Check your network, pin one with --model-args revision=COMMIT, "
        f"or pass a local copy with checkpoint=PATH."
    )


def pretrained_source(model: str, repo: str | None, revision: str | None, checkpoint: str | None
                      ) -> tuple[str, str | None, str | None]:
    """Where `from_pretrained` should read: (path or repo id, revision to pass, commit to record).

    For a Hub repo the commit is resolved first (from the cache when offline) by fetching its
    config.json, so that every file comes from that one commit and the result records it; a
    local `save_pretrained` folder records none.
    """
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not (path / "config.json").is_file():
            raise AudioprobeError(f"model {model!r}: checkpoint={checkpoint} is not a folder with a config.json "
                                  f"(a save_pretrained folder is expected).")
        return str(path), None, None
    if not repo:
        raise AudioprobeError(f"model {model!r}: give repo=ORG/NAME or checkpoint=FOLDER.")
    _, commit = hub_download(repo, "config.json", revision)
    return repo, commit, commit
