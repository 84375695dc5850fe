#!/usr/bin/env python3
"""The scale-out cluster as a black box (issue 22): real Kamailio (config/kamailio/kamailio.cfg), real
astmrf-ivr instances, real sandbox Asterisks, all started by scripts/cluster, and sipp callers.

  cluster_test.py load     calls at LOAD_RATE/s (default 40) for LOAD_SECONDS (default 60) through
                           Kamailio: three kinds of call side by side (the caller hangs up; the IVR
                           hangs up; the caller re-INVITEs, then hangs up); 0 failures, each
                           instance takes 40-60 % of them, and every request of a call reached
                           the instance that took its INVITE
  cluster_test.py drain    SIGTERM one instance under load: it takes no new call (it refuses them
                           with 503 until Kamailio's probe takes it out, and Kamailio retries them
                           on the other instance), no call fails, it exits 0, it is out of the
                           dispatcher, and back in once started again
  cluster_test.py kill     SIGKILL one instance under load: Kamailio takes it out within 3 s, no
                           call started after that fails, the calls it held fail (their callers'
                           BYE gets 408 from Kamailio), the restarted instance hangs up what its
                           predecessor left on the Asterisks and takes calls again
  cluster_test.py down     `scripts/cluster down`, then: no process of the cluster left, every
                           Asterisk instance stopped

Every case ends with the leak check: no channel and no bridge left on any Asterisk.
Environment: CLUSTER_NAME (the name given to `scripts/cluster up`), LOAD_RATE, LOAD_SECONDS.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "..", "scripts", "lib"))
from astmrf_tools import alive, sipp_counts  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CLUSTER = os.path.join(ROOT, "scripts/cluster")
NAME = os.environ.get("CLUSTER_NAME", "ctest-cluster")
WORK = tempfile.mkdtemp(prefix="cluster-test-")
failures = []


def say(*args):
    print(*args, flush=True)


def check(ok, what):
    say(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def cluster(*args, timeout=120):
    result = subprocess.run([CLUSTER, "--name", NAME] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return result.returncode, result.stdout


def status():
    code, out = cluster("status", "--json")
    if code != 0:
        raise SystemExit(f"scripts/cluster status failed: {out}")
    return json.loads(out)


def kamailio_port():
    with open(os.path.join(os.environ.get("ASTMRF_CLUSTER_DIR", "/tmp/astmrf-cluster"), NAME, "state.json")) as f:
        return json.load(f)["kamailio"]["port"]


class Sipp:
    """One sipp caller through Kamailio, in the background."""

    def __init__(self, name, scenario, rate, calls, hold_ms=0):
        self.name = name
        self.stat = os.path.join(WORK, f"{name}.csv")
        self.err = os.path.join(WORK, f"{name}.err")
        self.out = open(os.path.join(WORK, f"{name}.out"), "w")
        args = ["sipp", "-sf", os.path.join(HERE, "sipp", scenario), "-i", "127.0.0.1", "-p", "0", "-mp",
                str(free_media_port()), "-r", str(rate), "-m", str(calls), "-l", str(max(calls, 1)), "-nostdin",
                "-timeout", f"{int(calls / max(rate, 1)) + 60}s", "-trace_stat", "-stf", self.stat, "-fd", "1",
                "-trace_err", "-error_file", self.err, "-max_socket", "1000", "-skip_rlimit"]
        if hold_ms:
            args += ["-d", str(hold_ms)]
        self.proc = subprocess.Popen(args + [f"127.0.0.1:{kamailio_port()}"], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=WORK)

    def wait(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        return self.result()

    def result(self):
        """(created, successful, failed) from the last line of sipp's statistics."""
        return sipp_counts(self.stat)

    def errors(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


_media_port = [46000]


def free_media_port():
    _media_port[0] += 200  # sipp binds its media port; each caller gets its own
    return _media_port[0]


def ivr_log(ivr):
    with open(ivr["log"], errors="replace") as f:
        return f.read()


def call_ids(text, event):
    return re.findall(r" event=" + event + r" call_id=(\S+)", text)


def leak_check(timeout=20):
    """No channel and no bridge left on any Asterisk (calls just ended may take a moment)."""
    deadline = time.time() + timeout
    while True:
        left = [(a["name"], a["channels"], a["bridges"]) for a in status()["asterisks"]
                if a["channels"] != 0 or a["bridges"] != 0]
        if not left or time.time() > deadline:
            break
        time.sleep(0.5)
    check(not left, f"nothing left on the Asterisks {left if left else ''}")


def flags_of(index):
    for ivr in status()["ivrs"]:
        if ivr["index"] == index:
            return ivr["dispatcher_flags"] or ""
    return ""


def wait_flags(index, first, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if flags_of(index).startswith(first):
            return time.time() - start
        time.sleep(0.05)
    return None


def restart(index, since=None):
    """Starts instance `index` again and checks that Kamailio has it back in its list."""
    code, out = cluster("start", str(index))
    when = "" if since is None else f" {time.time() - since:.1f} s after the kill"
    check(code == 0, f"ivr-{index} started again{when}" + ("" if code == 0 else ":\n" + out))
    back = wait_flags(index, "A", 5)
    check(back is not None, f"Kamailio has ivr-{index} back in its list ({flags_of(index)})")


def ivr_of(index):
    return next(i for i in status()["ivrs"] if i["index"] == index)


def invites_per_instance():
    return {ivr["index"]: len(call_ids(ivr_log(ivr), "invite")) for ivr in status()["ivrs"]}


# ---- cases ------------------------------------------------------------------------------------


def case_load():
    rate = int(os.environ.get("LOAD_RATE", "40"))
    seconds = int(os.environ.get("LOAD_SECONDS", "60"))
    before = invites_per_instance()
    logs_before = {ivr["index"]: len(ivr_log(ivr)) for ivr in status()["ivrs"]}
    # Half the calls are hung up by the caller, a quarter by the IVR, a quarter re-INVITE first.
    kinds = [("caller-bye", "caller-hangs-up.xml", rate // 2, 1500), ("ivr-bye", "ivr-hangs-up.xml", rate // 4, 0),
             ("reinvite", "reinvite.xml", rate - rate // 2 - rate // 4, 0)]
    say(f"load: {rate} calls/s for {seconds} s through Kamailio")
    callers = [Sipp(name, scenario, r, r * seconds, hold) for name, scenario, r, hold in kinds]
    total = 0
    for caller in callers:
        created, ok, failed = caller.wait(seconds + 90)
        total += created
        check(created == ok and failed == 0 and caller.proc.returncode == 0,
              f"{caller.name}: {created} calls, {ok} successful, {failed} failed (sipp exit {caller.proc.returncode})"
              + ("" if failed == 0 else "\n" + caller.errors()[-3000:]))
    after = invites_per_instance()
    taken = {i: after[i] - before.get(i, 0) for i in after}
    for i, n in taken.items():
        share = 100.0 * n / max(1, total)
        check(40.0 <= share <= 60.0, f"ivr-{i} took {n} of {total} calls ({share:.1f} %, 40-60 % expected)")
    # Every request of a call reached the instance that took its INVITE: a call's id is in one
    # log only, and there its dialog ended by a BYE from either side.
    ended = {}
    by_instance = {}
    for ivr in status()["ivrs"]:
        text = ivr_log(ivr)[logs_before[ivr["index"]]:]
        by_instance[ivr["index"]] = set(call_ids(text, "invite"))
        for cid, who in re.findall(r" event=sip_dialog_end call_id=(\S+) who=(\S+)", text):
            ended.setdefault(who, set()).add((ivr["index"], cid))
    both = set.intersection(*by_instance.values()) if len(by_instance) > 1 else set()
    check(not both, f"no call reached two instances ({len(both)} did)")
    owned = {(i, cid) for i, ids in by_instance.items() for cid in ids}
    remote = ended.get("remote", set())
    local = ended.get("local", set())
    check(remote <= owned and local <= owned and len(remote | local) == len(owned),
          f"each call's dialog ended on its own instance: {len(remote)} by the caller's BYE, "
          f"{len(local)} by the IVR's BYE, of {len(owned)}")
    expect_local = kinds[1][2] * seconds
    check(len(local) == expect_local, f"the IVR's BYE reached {len(local)} callers ({expect_local} expected)")
    leak_check()


def case_drain():
    rate, seconds = 20, 12
    say(f"drain: {rate} calls/s for {seconds} s (3 s each), ivr-2 gets SIGTERM after 3 s")
    caller = Sipp("drain", "caller-hangs-up.xml", rate, rate * seconds, 3000)
    time.sleep(3)
    before = invites_per_instance()
    code, out = cluster("drain", "2", "--wait", "60")
    check(code == 0, "ivr-2 drained and exited with status 0" + ("" if code == 0 else ":\n" + out))
    out_at = wait_flags(2, "I", 5)
    check(out_at is not None, f"Kamailio has ivr-2 out of its list ({flags_of(2)})")
    created, ok, failed = caller.wait(seconds + 60)
    check(created == ok == rate * seconds and failed == 0,
          f"drain: {created} calls, {ok} successful, {failed} failed" + ("" if failed == 0 else
                                                                        "\n" + caller.errors()[-3000:]))
    after = invites_per_instance()
    since_sigterm = ivr_log(ivr_of(2)).rsplit(" event=draining ", 1)[-1]
    took = len(call_ids(since_sigterm, "invite"))
    refused = since_sigterm.count(" why=draining")
    check(took == 0, f"ivr-2 took no new call once draining ({took}; {refused} refused with 503 and retried by "
          f"Kamailio on ivr-1, which took {after[1] - before[1]} calls meanwhile)")
    restart(2)
    leak_check()


def case_kill():
    rate, seconds = 20, 12
    say(f"kill: {rate} calls/s for {seconds} s (3 s each), ivr-1 gets SIGKILL after 4 s")
    caller = Sipp("before-kill", "caller-hangs-up.xml", rate, rate * seconds, 3000)
    time.sleep(4)
    killed_at = time.time()
    code, _ = cluster("kill", "1")
    check(code == 0, "ivr-1 killed")
    # What it held: the calls its log (written line by line, complete at the kill) took and did not end.
    text = ivr_log(ivr_of(1))
    held = len(set(call_ids(text, "invite")) - set(re.findall(r" event=call_end call_id=(\S+)", text)))
    out_after = wait_flags(1, "I", 10)
    check(out_after is not None and out_after <= 3.0,
          f"Kamailio took ivr-1 out {out_after if out_after is None else round(out_after, 2)} s after the kill "
          "(3 s at most)")
    # New calls from now on: none may fail.
    after_removal = Sipp("after-removal", "caller-hangs-up.xml", rate, rate * 5, 1000)
    created, ok, failed = after_removal.wait(60)
    check(created == ok == rate * 5 and failed == 0,
          f"calls started after the removal: {created}, {ok} successful, {failed} failed"
          + ("" if failed == 0 else "\n" + after_removal.errors()[-3000:]))
    created, ok, failed = caller.wait(seconds + 60)
    got_408 = caller.errors().count("SIP/2.0 408")
    say(f"     calls running across the kill: {created}, {ok} successful, {failed} failed; ivr-1 held {held} "
        f"at the kill; {got_408} callers' BYE got 408 from Kamailio")
    check(failed <= held, f"only calls ivr-1 held failed ({failed} failed, {held} held)")
    # Restart: the new ivr-1 hangs up what the killed one left in its Stasis app, then takes calls.
    restart(1, since=killed_at)
    leak_check()
    orphans = len(re.findall(r" event=orphan_hangup ", ivr_log(ivr_of(1))))
    check(0 < orphans <= held, f"the restarted ivr-1 hung up {orphans} channels its predecessor left "
          f"(it held {held} calls)")
    before = invites_per_instance()
    again = Sipp("after-restart", "caller-hangs-up.xml", rate, rate * 5, 1000)
    created, ok, failed = again.wait(60)
    after = invites_per_instance()
    check(created == ok and failed == 0, f"after the restart: {created} calls, {ok} successful, {failed} failed")
    check(after[1] - before[1] >= created * 0.4,
          f"the restarted ivr-1 takes calls again ({after[1] - before[1]} of {created})")
    leak_check()


def case_down():
    state_path = os.path.join(os.environ.get("ASTMRF_CLUSTER_DIR", "/tmp/astmrf-cluster"), NAME, "state.json")
    try:
        with open(state_path) as f:
            state = json.load(f)
    except OSError:
        state = None
    if state:
        leak_check(5)
    code, out = cluster("down", timeout=300)
    check(code == 0, "scripts/cluster down" + ("" if code == 0 else ":\n" + out))
    if not state:
        return
    pids = [state["kamailio"].get("pid")] + [i.get("pid") for i in state["ivrs"]] + [i.get("pgid") for i in
                                                                                     state["ivrs"]]
    running = [p for p in pids if p and alive(p)]
    check(not running, f"no process of the cluster left {running if running else ''}")
    stray = subprocess.run(["pgrep", "-f", f"kamailio_ctl|{state['dir']}"], stdout=subprocess.PIPE,
                           text=True).stdout.split()
    check(not stray, f"no Kamailio of the cluster left {stray if stray else ''}")
    for ast in state["asterisks"]:
        code = subprocess.run([os.path.join(ROOT, "scripts/asterisk-sandbox"), "status", "--name", ast["name"]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        check(code == 3, f"Asterisk {ast['name']} stopped")


def main():
    cases = {"load": case_load, "drain": case_drain, "kill": case_kill, "down": case_down}
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(cases)}")
    cases[sys.argv[1]]()
    if failures:
        say(f"{len(failures)} check(s) failed; sipp's files are in {WORK}")
        return 1
    subprocess.run(["rm", "-rf", WORK])
    return 0


if __name__ == "__main__":
    sys.exit(main())
