"""Drive a reader with sllurp (an LLRP client tracegate did not write) and report what it saw.

    python sllurp_inventory.py HOST PORT SECONDS

Runs sllurp's own session — connect, capabilities, reset, ROSpec, inventory — for SECONDS,
counting every tag report sllurp decodes, then disconnects politely. Prints one JSON object
(tag reports, distinct EPCs, antennas seen, the states sllurp went through) and exits 0 when
sllurp reached inventorying and decoded at least one tag report.
"""

import json
import os
import sys
import threading
import time

from sllurp.llrp import LLRPReaderClient, LLRPReaderConfig, LLRPReaderState


def main() -> int:
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    config = LLRPReaderConfig(
        {
            "antennas": [1, 2],
            "tx_power": {1: 0, 2: 0},
            "report_every_n_tags": 1,
            "session": 2,
            "tag_population": 16,
            "start_inventory": True,
            "reset_on_connect": True,
            "tag_content_selector": {
                "EnableROSpecID": False,
                "EnableSpecIndex": False,
                "EnableInventoryParameterSpecID": False,
                "EnableAntennaID": True,
                "EnableChannelIndex": False,
                "EnablePeakRSSI": True,
                "EnableFirstSeenTimestamp": True,
                "EnableLastSeenTimestamp": False,
                "EnableTagSeenCount": True,
                "EnableAccessSpecID": False,
            },
        }
    )
    reader = LLRPReaderClient(host, port, config)
    reports, epcs, antennas, states = 0, set(), set(), []
    inventorying = threading.Event()
    lock = threading.Lock()

    def on_tags(_reader, tags):
        nonlocal reports
        with lock:
            for tag in tags:
                reports += 1
                epc = tag.get("EPC-96") or tag.get("EPC") or b""
                epcs.add(epc.decode() if isinstance(epc, bytes) else str(epc))
                if "AntennaID" in tag:
                    antennas.add(int(tag["AntennaID"]))

    def on_state(_reader, state):
        states.append(LLRPReaderState.getStateName(state))
        if state == LLRPReaderState.STATE_INVENTORYING:
            inventorying.set()

    reader.add_tag_report_callback(on_tags)
    for state in (
        LLRPReaderState.STATE_CONNECTED,
        LLRPReaderState.STATE_SENT_GET_CAPABILITIES,
        LLRPReaderState.STATE_SENT_ADD_ROSPEC,
        LLRPReaderState.STATE_SENT_ENABLE_ROSPEC,
        LLRPReaderState.STATE_INVENTORYING,
    ):
        reader.add_state_callback(state, on_state)
    reader.connect()
    inventorying.wait(10)
    time.sleep(seconds)
    reader.disconnect()
    reader.join(5)
    with lock:
        summary = {
            "reports": reports,
            "epcs": sorted(epcs),
            "antennas": sorted(antennas),
            "states": states,
        }
    print(json.dumps(summary), flush=True)
    return 0 if inventorying.is_set() and reports > 0 else 1


if __name__ == "__main__":
    # os._exit, not sys.exit: when sllurp's disconnect is not answered in time (a loaded
    # machine), its reactor thread is still polling the socket and is not a daemon thread, so
    # the interpreter would wait for it at exit forever — after the summary was printed.
    code = main()
    sys.stderr.flush()
    os._exit(code)
