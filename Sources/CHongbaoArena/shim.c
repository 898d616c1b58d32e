#include "shim.h"

__thread void *hb_epoch_record;
