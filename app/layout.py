"""Where a dataset's files live in storage: every key is built here, so the layout is written once."""
from __future__ import annotations

ROOT = "datasets"


def dataset_folder(dataset_id: str) -> str:
    """Everything a dataset stores is under this prefix: deleting it deletes the dataset's files."""
    return f"{ROOT}/{dataset_id}"


def raw_key(dataset_id: str, extension: str = "") -> str:
    """The uploaded file as received ("" while a URL's format is not known yet)."""
    return f"{dataset_folder(dataset_id)}/raw" + (f".{extension.lstrip('.')}" if extension else "")


def run_prefix(dataset_id: str, run: int) -> str:
    """Where one run writes its outputs: a re-run never overwrites the files the previous run serves."""
    return f"{dataset_folder(dataset_id)}/runs/{run}"


def run_number(dataset_id: str, key: str) -> int:
    """The run that wrote a key (1 for a dataset cleaned before runs, whose outputs sit beside its raw file)."""
    folder, runs = folder_of(key), f"{dataset_folder(dataset_id)}/runs/"
    return int(folder.removeprefix(runs)) if folder.startswith(runs) else 1


def folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0]


def beside(key: str, name: str) -> str:
    """The key of another file in the same folder, e.g. the imputed cells next to a run's cleaned CSV."""
    return f"{folder_of(key)}/{name}"
