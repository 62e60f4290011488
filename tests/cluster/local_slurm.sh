#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for exercising `tickets figures --executor slurm`.
#
#   tests/cluster/local_slurm.sh start   # install if missing, configure, start, wait until idle
#   tests/cluster/local_slurm.sh status  # sinfo of the running cluster
#   tests/cluster/local_slurm.sh stop    # cancel its jobs, stop the daemons, remove its state
#
# Then point Slurm's commands (sbatch, squeue, scontrol; submitit calls them) at it with
#   export SLURM_CONF=$TICKETS_SLURM_DIR/slurm.conf
#
# Everything lives under TICKETS_SLURM_DIR (default /tmp/tickets-slurm): slurm.conf, a fresh
# munge key and socket, the daemons' state, logs and pid files. Nothing is written to /etc, and
# the daemons listen on localhost only (SlurmctldHost and NodeAddr are 127.0.0.1; ports
# TICKETS_SLURM_PORT and TICKETS_SLURM_PORT+1, default 6817-6818). Needs root (munged, slurmd);
# installs Debian's slurm-wlm and munge with apt-get when slurmctld is missing.
# Process tracking is proctrack/linuxproc with task/none: no cgroups, so it runs in a container.
set -euo pipefail

DIR=${TICKETS_SLURM_DIR:-/tmp/tickets-slurm}
PORT=${TICKETS_SLURM_PORT:-6817}
CPUS=${TICKETS_SLURM_CPUS:-$(getconf _NPROCESSORS_ONLN)}  # not nproc: it obeys OMP_NUM_THREADS
CONF=$DIR/slurm.conf
# Slurm's commands must read this cluster's file, not /etc/slurm's
export SLURM_CONF=$CONF

log() { echo "local_slurm: $*" >&2; }

install_if_missing() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
}

write_config() {
    mkdir -p "$DIR"/ctld "$DIR"/spool "$DIR"/log "$DIR"/munge
    chmod 700 "$DIR" "$DIR"/munge
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
    local memory
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
    cat >"$CONF" <<CONF
ClusterName=tickets-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=10
KillWait=5
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

wait_idle() {
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo --noheader --format=%T --nodes=localhost 2>/dev/null || true)
        if [[ $state == idle* ]]; then
            log "node localhost is idle ($CPUS CPUs); export SLURM_CONF=$CONF"
            return
        fi
        sleep 1
    done
    log "node not idle after 60 s (state: ${state:-none}); see $DIR/log"
    exit 1
}

start() {
    [[ $(id -u) == 0 ]] || { log "start needs root (munged, slurmd)"; exit 2; }
    [[ -e $CONF ]] && { log "$CONF exists: stop the running cluster first"; exit 2; }
    install_if_missing
    write_config
    munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed"
    slurmctld -f "$CONF" -i
    slurmd -f "$CONF" -N localhost
    wait_idle
}

stop() {
    [[ -d $DIR ]] || { log "nothing to stop ($DIR does not exist)"; return; }
    if [[ -e $CONF ]]; then  # jobs first: their step daemons outlive slurmd
        scancel --full --quiet --user=root 2>/dev/null || true
        for _ in $(seq 30); do
            [[ -z $(squeue --noheader 2>/dev/null) ]] && break
            sleep 1
        done
    fi
    for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
        [[ -s $pidfile ]] || continue
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$DIR"
    log "stopped; removed $DIR"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) sinfo && squeue ;;
    *) echo "usage: $0 start|stop|status (state under TICKETS_SLURM_DIR, default $DIR)" >&2
       exit 2 ;;
esac
