//! TCP proxy with delay, throttle and a recorded transcript (tcp-B writes this module).
