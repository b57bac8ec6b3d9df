"""The training record: the JSON file the training script left in the checkpoint folder, held to
the expectations of gate.toml's [training_record] table. It reads only the folder: no model is
loaded. Without the table the check does not exist; a checkpoint without the file is listed as
not applicable, unless the table sets required = true.

The reading and the messages live in `harness.checkpoint.training_record`.
"""

import pytest

from harness.checkpoint.training_record import check_training_record
from harness.pytest_plugin import passes

pytestmark = pytest.mark.gpu


@pytest.mark.training_record
def test_training_record(usable_checkpoint, gate_session):
    record = gate_session.training_record(usable_checkpoint)
    passes(check_training_record(usable_checkpoint.name, record))
