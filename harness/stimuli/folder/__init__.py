"""The folder format of a stimulus set: reading (`load_folder`, `read_rdm`) and writing (`export_folder`).

    my-study/
      dataset.yaml    name, description, license, citation, dimensions, sample_rate, synthetic
      sounds/         one audio file per sound; the file name without extension is the sound id
      labels.csv      sound_id + physical label columns (optional; its row order is the set's order)
      judgments.csv   sound_id,dimension,category,count   (and/or responses.csv)
      responses.csv   listener,sound_id,dimension,category (optional)
      rdm.csv         optional human dissimilarity matrix (NaN or empty cells: pairs not rated)
      rdm/            optional: one <listener>.csv per listener, same layout (noise ceiling of rdm targets)

docs/stimuli.md describes every file. Loading checks everything small (and every audio header)
up front, with errors naming the file, line and sound; exporting then loading gives the same
fingerprint. One module per part of the folder:

    loader.py      load_folder: reads the parts in order, builds and validates the StimulusSet
    metadata.py    dataset.yaml (checked keys, dimensions, no file leading out of the folder) and labels.csv
    sounds.py      sounds/: one audio file per sound id, no link out of the folder
    judgments.py   judgments.csv (counts) and responses.csv (each listener's answers)
    matrices.py    rdm.csv and rdm/<listener>.csv: read_rdm, the per-listener matrices, their mean
    csv_files.py   reading a CSV file: UTF-8, required columns, one message per way it goes wrong
    export.py      export_folder: the set written atomically in this format
"""

from audioprobe.stimuli.folder.export import export_folder
from audioprobe.stimuli.folder.loader import load_folder
from audioprobe.stimuli.folder.matrices import read_rdm

__all__ = ["export_folder", "load_folder", "read_rdm"]
