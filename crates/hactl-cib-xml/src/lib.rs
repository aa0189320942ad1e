//! Pacemaker CIB XML import (being written).
