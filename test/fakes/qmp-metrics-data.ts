// QMP replies and /proc files recorded from QEMU 7.2 (Debian bookworm) running the fixture
// guest under TCG with the launcher's own command line (planQemu), 15-20 s after `cont`.
// Test data only, so the parsers are table-tested against what QEMU and Linux really answer;
// not imported by production code.

/**
 * QEMU pid 2951: a 2-vCPU VM (192 MiB) with a balloon and virtio-blk disks `root` (read-only)
 * and `data1` (the guest wrote its marker to it).
 */
export const VIRTIO_VM = {
  pid: 2951,
  cpusFast: [
    {
      "thread-id": 2955,
      "props": {
        "core-id": 0,
        "thread-id": 0,
        "socket-id": 0
      },
      "qom-path": "/machine/unattached/device[0]",
      "cpu-index": 0,
      "target": "x86_64"
    },
    {
      "thread-id": 2956,
      "props": {
        "core-id": 1,
        "thread-id": 0,
        "socket-id": 0
      },
      "qom-path": "/machine/unattached/device[2]",
      "cpu-index": 1,
      "target": "x86_64"
    }
  ],
  memorySizeSummary: {
    "base-memory": 201326592,
    "plugged-memory": 0
  },
  balloon: {
    "actual": 201326592
  },
  blockstats: [
    {
      "device": "",
      "parent": {
        "stats": {
          "unmap_operations": 0,
          "unmap_merged": 0,
          "flush_total_time_ns": 0,
          "wr_highest_offset": 0,
          "wr_total_time_ns": 0,
          "failed_wr_operations": 0,
          "failed_rd_operations": 0,
          "wr_merged": 0,
          "wr_bytes": 0,
          "timed_stats": [],
          "failed_unmap_operations": 0,
          "failed_flush_operations": 0,
          "account_invalid": false,
          "rd_total_time_ns": 0,
          "invalid_unmap_operations": 0,
          "flush_operations": 0,
          "wr_operations": 0,
          "unmap_bytes": 0,
          "rd_merged": 0,
          "rd_bytes": 0,
          "unmap_total_time_ns": 0,
          "invalid_flush_operations": 0,
          "account_failed": false,
          "rd_operations": 0,
          "invalid_wr_operations": 0,
          "invalid_rd_operations": 0
        },
        "node-name": "file-root",
        "driver-specific": {
          "discard-bytes-ok": 0,
          "discard-nb-ok": 0,
          "driver": "file",
          "discard-nb-failed": 0
        }
      },
      "stats": {
        "unmap_operations": 0,
        "unmap_merged": 0,
        "flush_total_time_ns": 0,
        "wr_highest_offset": 0,
        "wr_total_time_ns": 0,
        "failed_wr_operations": 0,
        "failed_rd_operations": 0,
        "wr_merged": 0,
        "wr_bytes": 0,
        "timed_stats": [],
        "failed_unmap_operations": 0,
        "failed_flush_operations": 0,
        "account_invalid": true,
        "rd_total_time_ns": 3267313878,
        "invalid_unmap_operations": 0,
        "flush_operations": 0,
        "wr_operations": 0,
        "unmap_bytes": 0,
        "rd_merged": 0,
        "rd_bytes": 16252416,
        "unmap_total_time_ns": 0,
        "invalid_flush_operations": 0,
        "account_failed": true,
        "idle_time_ns": 782654575,
        "rd_operations": 546,
        "invalid_wr_operations": 0,
        "invalid_rd_operations": 0
      },
      "node-name": "fmt-root",
      "qdev": "/machine/peripheral/disk-root/virtio-backend"
    },
    {
      "device": "",
      "parent": {
        "stats": {
          "unmap_operations": 0,
          "unmap_merged": 0,
          "flush_total_time_ns": 0,
          "wr_highest_offset": 4096,
          "wr_total_time_ns": 0,
          "failed_wr_operations": 0,
          "failed_rd_operations": 0,
          "wr_merged": 0,
          "wr_bytes": 0,
          "timed_stats": [],
          "failed_unmap_operations": 0,
          "failed_flush_operations": 0,
          "account_invalid": false,
          "rd_total_time_ns": 0,
          "invalid_unmap_operations": 0,
          "flush_operations": 0,
          "wr_operations": 0,
          "unmap_bytes": 0,
          "rd_merged": 0,
          "rd_bytes": 0,
          "unmap_total_time_ns": 0,
          "invalid_flush_operations": 0,
          "account_failed": false,
          "rd_operations": 0,
          "invalid_wr_operations": 0,
          "invalid_rd_operations": 0
        },
        "node-name": "file-data1",
        "driver-specific": {
          "discard-bytes-ok": 0,
          "discard-nb-ok": 0,
          "driver": "file",
          "discard-nb-failed": 0
        }
      },
      "stats": {
        "unmap_operations": 0,
        "unmap_merged": 0,
        "flush_total_time_ns": 269325,
        "wr_highest_offset": 4096,
        "wr_total_time_ns": 261476,
        "failed_wr_operations": 0,
        "failed_rd_operations": 0,
        "wr_merged": 0,
        "wr_bytes": 4096,
        "timed_stats": [],
        "failed_unmap_operations": 0,
        "failed_flush_operations": 0,
        "account_invalid": true,
        "rd_total_time_ns": 11353176,
        "invalid_unmap_operations": 0,
        "flush_operations": 1,
        "wr_operations": 1,
        "unmap_bytes": 0,
        "rd_merged": 0,
        "rd_bytes": 29184,
        "unmap_total_time_ns": 0,
        "invalid_flush_operations": 0,
        "account_failed": true,
        "idle_time_ns": 541023480,
        "rd_operations": 5,
        "invalid_wr_operations": 0,
        "invalid_rd_operations": 0
      },
      "node-name": "fmt-data1",
      "qdev": "/machine/peripheral/disk-data1/virtio-backend"
    }
  ],
  /** /proc/<pid>/stat: utime 773, stime 40 ticks. */
  stat: "2951 (qemu-system-x86) S 2873 2790 21521 0 -1 138412416 28646 0 1 0 773 40 0 0 20 0 6 0 958301 762093568 52095 18446744073709551615 94389539966976 94389545827413 140725659816464 0 0 0 268444224 4096 16451 0 0 0 17 1 0 0 0 0 0 94389548939512 94389554143664 94390342676480 140725659823283 140725659825614 140725659825614 140725659828188 0\n",
  /** /proc/<pid>/task/<tid>/stat of the vCPU threads (debug-threads=on names them "CPU n/TCG"). */
  vcpuStats: [
    "2955 (CPU 0/TCG) S 2873 2790 21521 0 -1 138412224 13507 0 0 0 464 9 0 0 20 0 6 0 958309 762093568 52095 18446744073709551615 94389539966976 94389545827413 140725659816464 0 0 0 2147220087 4096 16451 1 0 0 -1 0 0 0 0 0 0 94389548939512 94389554143664 94390342676480 140725659823283 140725659825614 140725659825614 140725659828188 0\n",
    "2956 (CPU 1/TCG) R 2873 2790 21521 0 -1 138412224 9113 0 0 0 208 12 0 0 20 0 6 0 958309 762093568 52095 18446744073709551615 94389539966976 94389545827413 140725659816464 0 0 0 2147220087 4096 16451 0 0 0 -1 0 0 0 0 0 0 94389548939512 94389554143664 94390342676480 140725659823283 140725659825614 140725659825614 140725659828188 0\n"
  ],
  /** /proc/<pid>/status, the lines around the one the parser reads (VmRSS 208556 kB). */
  status: "Name:\tqemu-system-x86\nState:\tS (sleeping)\nTgid:\t2951\nPid:\t2951\nPPid:\t2873\nVmPeak:\t  747312 kB\nVmSize:\t  744232 kB\nVmHWM:\t  208640 kB\nVmRSS:\t  208556 kB\nRssAnon:\t  185976 kB\nRssFile:\t   22580 kB\nRssShmem:\t       0 kB\nThreads:\t6\n",
} as const;

/** The same guest with `data1` on virtio-scsi (scsi-hd: qdev is the bare id), a cidata disk, no balloon. */
export const SCSI_VM = {
  /** What QEMU answers query-balloon with when the VM has no balloon device. */
  balloonError: { class: 'DeviceNotActive', desc: 'No balloon device has been activated' },
  blockstats: [
    {
      "device": "",
      "parent": {
        "stats": {
          "unmap_operations": 0,
          "unmap_merged": 0,
          "flush_total_time_ns": 0,
          "wr_highest_offset": 0,
          "wr_total_time_ns": 0,
          "failed_wr_operations": 0,
          "failed_rd_operations": 0,
          "wr_merged": 0,
          "wr_bytes": 0,
          "timed_stats": [],
          "failed_unmap_operations": 0,
          "failed_flush_operations": 0,
          "account_invalid": false,
          "rd_total_time_ns": 0,
          "invalid_unmap_operations": 0,
          "flush_operations": 0,
          "wr_operations": 0,
          "unmap_bytes": 0,
          "rd_merged": 0,
          "rd_bytes": 0,
          "unmap_total_time_ns": 0,
          "invalid_flush_operations": 0,
          "account_failed": false,
          "rd_operations": 0,
          "invalid_wr_operations": 0,
          "invalid_rd_operations": 0
        },
        "node-name": "file-root",
        "driver-specific": {
          "discard-bytes-ok": 0,
          "discard-nb-ok": 0,
          "driver": "file",
          "discard-nb-failed": 0
        }
      },
      "stats": {
        "unmap_operations": 0,
        "unmap_merged": 0,
        "flush_total_time_ns": 0,
        "wr_highest_offset": 0,
        "wr_total_time_ns": 0,
        "failed_wr_operations": 0,
        "failed_rd_operations": 0,
        "wr_merged": 0,
        "wr_bytes": 0,
        "timed_stats": [],
        "failed_unmap_operations": 0,
        "failed_flush_operations": 0,
        "account_invalid": true,
        "rd_total_time_ns": 2077973821,
        "invalid_unmap_operations": 0,
        "flush_operations": 0,
        "wr_operations": 0,
        "unmap_bytes": 0,
        "rd_merged": 0,
        "rd_bytes": 16244224,
        "unmap_total_time_ns": 0,
        "invalid_flush_operations": 0,
        "account_failed": true,
        "idle_time_ns": 15257077309,
        "rd_operations": 544,
        "invalid_wr_operations": 0,
        "invalid_rd_operations": 0
      },
      "node-name": "fmt-root",
      "qdev": "/machine/peripheral/disk-root/virtio-backend"
    },
    {
      "device": "",
      "parent": {
        "stats": {
          "unmap_operations": 0,
          "unmap_merged": 0,
          "flush_total_time_ns": 0,
          "wr_highest_offset": 0,
          "wr_total_time_ns": 0,
          "failed_wr_operations": 0,
          "failed_rd_operations": 0,
          "wr_merged": 0,
          "wr_bytes": 0,
          "timed_stats": [],
          "failed_unmap_operations": 0,
          "failed_flush_operations": 0,
          "account_invalid": false,
          "rd_total_time_ns": 0,
          "invalid_unmap_operations": 0,
          "flush_operations": 0,
          "wr_operations": 0,
          "unmap_bytes": 0,
          "rd_merged": 0,
          "rd_bytes": 0,
          "unmap_total_time_ns": 0,
          "invalid_flush_operations": 0,
          "account_failed": false,
          "rd_operations": 0,
          "invalid_wr_operations": 0,
          "invalid_rd_operations": 0
        },
        "node-name": "file-data1",
        "driver-specific": {
          "discard-bytes-ok": 0,
          "discard-nb-ok": 0,
          "driver": "file",
          "discard-nb-failed": 0
        }
      },
      "stats": {
        "unmap_operations": 0,
        "unmap_merged": 0,
        "flush_total_time_ns": 0,
        "wr_highest_offset": 0,
        "wr_total_time_ns": 0,
        "failed_wr_operations": 0,
        "failed_rd_operations": 0,
        "wr_merged": 0,
        "wr_bytes": 0,
        "timed_stats": [],
        "failed_unmap_operations": 0,
        "failed_flush_operations": 0,
        "account_invalid": true,
        "rd_total_time_ns": 1152061,
        "invalid_unmap_operations": 0,
        "flush_operations": 0,
        "wr_operations": 0,
        "unmap_bytes": 0,
        "rd_merged": 0,
        "rd_bytes": 512,
        "unmap_total_time_ns": 0,
        "invalid_flush_operations": 0,
        "account_failed": true,
        "idle_time_ns": 15247725725,
        "rd_operations": 1,
        "invalid_wr_operations": 0,
        "invalid_rd_operations": 0
      },
      "node-name": "fmt-data1",
      "qdev": "disk-data1"
    },
    {
      "device": "",
      "parent": {
        "stats": {
          "unmap_operations": 0,
          "unmap_merged": 0,
          "flush_total_time_ns": 0,
          "wr_highest_offset": 0,
          "wr_total_time_ns": 0,
          "failed_wr_operations": 0,
          "failed_rd_operations": 0,
          "wr_merged": 0,
          "wr_bytes": 0,
          "timed_stats": [],
          "failed_unmap_operations": 0,
          "failed_flush_operations": 0,
          "account_invalid": false,
          "rd_total_time_ns": 0,
          "invalid_unmap_operations": 0,
          "flush_operations": 0,
          "wr_operations": 0,
          "unmap_bytes": 0,
          "rd_merged": 0,
          "rd_bytes": 0,
          "unmap_total_time_ns": 0,
          "invalid_flush_operations": 0,
          "account_failed": false,
          "rd_operations": 0,
          "invalid_wr_operations": 0,
          "invalid_rd_operations": 0
        },
        "node-name": "file-cloudinit",
        "driver-specific": {
          "discard-bytes-ok": 0,
          "discard-nb-ok": 0,
          "driver": "file",
          "discard-nb-failed": 0
        }
      },
      "stats": {
        "unmap_operations": 0,
        "unmap_merged": 0,
        "flush_total_time_ns": 0,
        "wr_highest_offset": 0,
        "wr_total_time_ns": 0,
        "failed_wr_operations": 0,
        "failed_rd_operations": 0,
        "wr_merged": 0,
        "wr_bytes": 0,
        "timed_stats": [],
        "failed_unmap_operations": 0,
        "failed_flush_operations": 0,
        "account_invalid": true,
        "rd_total_time_ns": 0,
        "invalid_unmap_operations": 0,
        "flush_operations": 0,
        "wr_operations": 0,
        "unmap_bytes": 0,
        "rd_merged": 0,
        "rd_bytes": 0,
        "unmap_total_time_ns": 0,
        "invalid_flush_operations": 0,
        "account_failed": true,
        "rd_operations": 0,
        "invalid_wr_operations": 0,
        "invalid_rd_operations": 0
      },
      "node-name": "fmt-cloudinit",
      "qdev": "/machine/peripheral/disk-cloudinit/virtio-backend"
    }
  ],
} as const;
