"""A clean end of multi-node runs under torchrun: the machine hosting the store leaves last.

When its workers have exited, each machine's torchrun agent enters an *exit barrier* on
the rendezvous TCPStore, which the agent of machine rank 0 hosts: it adds itself to a
counter, the last to arrive sets a key, and everyone waits for that key. The barrier has no
departure phase (pytorch/pytorch#69520): when machine 0's agent is not the last to arrive,
it wakes up on the last agent's ``set``, returns and exits, taking the store with it,
while the last agent is still sending its own ``wait``; that agent then logs "Error waiting
on exit barrier ... DistNetworkError: Failed to recv" with a traceback (the run itself
succeeded, and exits 0). On a busy machine, where the last agent can be descheduled
between its ``set`` and its ``wait``, this happens in a few percent of runs.

The race is gone when machine 0's agent arrives last: it then sets the key itself and the
others are already waiting. So local rank 0 of machine 0, at interpreter exit (after the
run, its final collectives and checkpoints), waits until every other machine's agent is
counted in the barrier (its workers have all exited), then exits, and its agent joins
last. The wait reads that counter through the agent store torchrun shares with workers
(``TORCHELASTIC_USE_AGENT_STORE``), which is the rendezvous store with the ``static``
rendezvous (the shipped ``multi_node.yaml`` and SLURM script). With ``c10d`` the workers'
store is another one, and outside multi-node torchrun there is no barrier: nothing is
done. It gives up after ``timeout_s`` (a machine that died), leaving torchrun's own
barrier timeout to report it.
"""

from __future__ import annotations

import atexit
import os
import time
from datetime import timedelta

# torch.distributed.elastic.agent.server.api._TERMINAL_STATE_SYNC_ID and
# torch.distributed.elastic.utils.store._NUM_MEMBERS: the counter of the exit barrier.
EXIT_BARRIER_COUNTER = "torchelastic/agent/terminal_state/num_members"
# written by machine 0's agent before it starts workers (api.py, _assign_worker_ranks): its
# presence tells that the workers' store is the rendezvous store
ROLE_INFO = "torchelastic/role_info/0"

_registered = False


def _other_agents() -> int:
    """Agents of other machines this process should see leave first (0: nothing to do)."""
    env = os.environ
    if env.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or "TORCHELASTIC_RUN_ID" not in env:
        return 0
    if env.get("GROUP_RANK") != "0" or env.get("LOCAL_RANK") != "0":
        return 0
    return int(env.get("GROUP_WORLD_SIZE", "1")) - 1


def wait_for_other_agents(timeout_s: float = 120.0, poll_s: float = 0.05) -> bool:
    """Block until the other machines' agents are in the exit barrier; True when they are
    (also when there is nothing to wait for), False after ``timeout_s``."""
    others = _other_agents()
    if others <= 0:
        return True
    from torch.distributed import TCPStore

    env = os.environ
    store = TCPStore(
        env["MASTER_ADDR"],
        int(env["MASTER_PORT"]),
        is_master=False,
        timeout=timedelta(seconds=timeout_s),
    )
    run_id = env["TORCHELASTIC_RUN_ID"]  # the static rendezvous' key prefix
    if not store.check([f"{run_id}/{ROLE_INFO}"]):
        return True  # not the rendezvous store (c10d): its barrier is out of reach
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if store.add(f"{run_id}/{EXIT_BARRIER_COUNTER}", 0) >= others:  # add 0: read it
            return True
        time.sleep(poll_s)
    return False


def leave_last_at_exit() -> None:
    """Register :func:`wait_for_other_agents` to run when this process exits (once;
    a no-op outside multi-node torchrun)."""
    global _registered
    if not _registered and _other_agents() > 0:
        atexit.register(_wait_quietly)
        _registered = True


def _wait_quietly() -> None:
    try:
        wait_for_other_agents()
    except Exception:  # noqa: BLE001 - never turn a finished run into a failed exit
        pass
