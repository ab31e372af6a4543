"""A pure step run in a forked child process, so a job alone on a machine also uses its second core."""
from __future__ import annotations

import logging
import multiprocessing
import pickle
import weakref
from typing import Callable, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def _child(conn, func: Callable[..., T], args: tuple) -> None:
    try:
        payload = (True, func(*args))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it as its own
        payload = (False, exc)
    try:
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            data = pickle.dumps((False, RuntimeError(f"{func.__name__}'s result could not be sent: {exc}")))
        conn.send_bytes(data)
    except OSError:
        pass  # the parent is gone (the job was stopped): nobody waits for this result
    finally:
        conn.close()


def in_background(func: Callable[..., T], *args, parallel: bool = True) -> Callable[[], T]:
    """Start `func(*args)` and return a function that waits for its result (or raises its exception).

    The child is forked, so the arguments (a whole frame) are shared copy-on-write, never pickled; only
    the result travels back. `func` must be pure: the child's writes are lost. Should the child die (a
    kill, memory), the call runs again here, so the job's outcome never depends on the second core.
    """
    if not parallel or "fork" not in multiprocessing.get_all_start_methods():
        result = func(*args)
        return lambda: result
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, func, args))  # not a daemon: it may fork in turn
    child.start()
    sender.close()

    def wait() -> T:
        try:
            ok, value = pickle.loads(receiver.recv_bytes())
        except EOFError:
            ok, value = None, None
        finally:
            receiver.close()
            child.join()
        if ok is None:
            log.warning("background %s died (exit code %s): running it in the job's process", func.__name__,
                        child.exitcode)
            return func(*args)
        if not ok:
            raise value
        return value
    # A caller that fails before it waits never reads the result: the child, blocked sending it, would hold
    # the process at exit (multiprocessing joins its children). Once `wait` is dropped, the child goes.
    weakref.finalize(wait, _stop, child, receiver)
    return wait


def _stop(child, receiver) -> None:
    receiver.close()
    if child.is_alive():
        child.kill()
    child.join()


def split(func: Callable[[list], dict], mine: list, theirs: list) -> dict:
    """`func(theirs)` in a forked child while `func(mine)` runs here; their dicts merged (no child if `theirs` is
    empty). For steps that treat each column on its own."""
    later = in_background(func, theirs, parallel=bool(theirs))
    found = func(mine)
    found.update(later())
    return found
