//! The Environment Abstraction Layer: initialised once per process.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{check, DpdkError};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Proof that the EAL is up; dropping it runs `rte_eal_cleanup`.
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialises the EAL with command-line style arguments, for example
    /// `["switchyard", "--no-huge", "-m", "256", "--no-pci",
    /// "--vdev=net_af_packet0,iface=eth0", "--file-prefix=fe1"]`.
    /// DPDK allows one initialisation per process; a second call fails.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError { what: "rte_eal_init".into(), errno: 114, text: "EAL already initialised in this process".into() });
        }
        let owned: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_ref()))
            .collect::<Result<_, _>>()
            .map_err(|_| DpdkError { what: "rte_eal_init".into(), errno: 22, text: "argument contains a NUL byte".into() })?;
        // DPDK may permute argv; give it its own array (kept alive: EAL may
        // keep pointers into it).
        let argv: &'static mut [*mut c_char] =
            Box::leak(owned.into_iter().map(|c| c.into_raw()).collect::<Vec<_>>().into_boxed_slice());
        // SAFETY: argv holds argc valid NUL-terminated strings that live
        // for the rest of the process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        if ret < 0 {
            INITIALISED.store(false, Ordering::SeqCst);
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        check("rte_eal_init", ret)?;
        Ok(Eal { _private: () })
    }

    /// Ethernet ports DPDK found (PCI devices and vdevs).
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised.
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: called once, after all ports and pools are dropped (they
        // borrow the Eal).
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}
