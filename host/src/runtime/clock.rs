//! Time limits that hold while a recipe waits. The epoch deadline stops a recipe's
//! own code, but not a host call it is blocked in: a WASI sleep (`poll` on a
//! monotonic-clock pollable), a download, a program. So the monotonic clock bo
//! gives recipes is WASI's own with every sleep cut at the call's deadline (the
//! recipe wakes, runs, and meets the epoch deadline), and the host services bound
//! their own waits by the time left (see [`PartState::time_left`]).

use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;

use super::PartState;

/// The monotonic clock with capped sleeps.
struct CappedClock;

impl HasData for CappedClock {
    type Data<'a> = CappedClockView<'a>;
}

struct CappedClockView<'a> {
    clocks: WasiClocksCtxView<'a>,
    deadline: Instant,
}

impl CappedClockView<'_> {
    /// Nanoseconds left until the deadline, plus a little so that the recipe wakes
    /// after its epoch deadline and is stopped (see also `Runtime::call`, which
    /// counts a call that ends past its deadline as timed out).
    fn left_ns(&self) -> u64 {
        let left = self.deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100);
        u64::try_from(left.as_nanos()).unwrap_or(u64::MAX)
    }
}

impl monotonic_clock::Host for CappedClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::now(&mut self.clocks)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        monotonic_clock::Host::resolution(&mut self.clocks)
    }

    fn subscribe_instant(&mut self, when: monotonic_clock::Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(&mut self.clocks)?;
        let capped = when.min(now.saturating_add(self.left_ns()));
        monotonic_clock::Host::subscribe_instant(&mut self.clocks, capped)
    }

    fn subscribe_duration(&mut self, duration: monotonic_clock::Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let capped = duration.min(self.left_ns());
        monotonic_clock::Host::subscribe_duration(&mut self.clocks, capped)
    }
}

/// Replaces WASI's monotonic clock in `linker` (after `add_to_linker_sync`).
pub fn add_capped_clock(linker: &mut Linker<PartState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    monotonic_clock::add_to_linker::<PartState, CappedClock>(linker, |state: &mut PartState| {
        let deadline = state.deadline;
        CappedClockView {
            clocks: WasiClocksView::clocks(state),
            deadline,
        }
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

impl PartState {
    /// What is left of the call's wall-clock limit: host services wait no longer.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
