"""A local stand-in for the Hugging Face Hub: files laid out as the Hub client caches them.

`models--ORG--NAME/snapshots/<commit>/<file>` plus `refs/<branch>`; with `HF_HUB_CACHE` pointing
at the folder and `HF_HUB_OFFLINE=1`, `hf_hub_download` and `from_pretrained` resolve from it
through their real code paths, without a network.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def add_to_hub_cache(cache_dir: Path, repo_id: str, files: dict[str, Path | bytes], commit: str,
                     repo_type: str = "model", branch: str = "main") -> Path:
    """Place `files` (name -> source path or bytes) under repo_id at `commit`; return the snapshot."""
    folder = Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    for name, src in files.items():
        dest = snapshot / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            dest.write_bytes(src)
        elif Path(src).is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dest)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / branch).write_text(commit)
    return snapshot
