/* Progressive enhancement for the video studio. Everything works without it; this makes it nicer.
A module runs once the page is parsed, so the page is there to enhance. Each area is a module:
dom.js (helpers), form.js (the job form), live.js (cards and rows that follow their jobs, with the one
poller in poller.js), media.js (players of the video's shape), present.js (presentation mode), costs.js (what a job would cost), nudge.js (a notification when a job is ready), widgets.js (hover to play, play all, copy, confirm). */

import { estimates } from "./costs.js";
import { localTimes } from "./dom.js";
import { focusErrorSummary, imagePreview, modelProfiles, promptCounter, randomSeed, sizePresets, submitOnce } from "./form.js";
import { followHistory, followJobs } from "./live.js";
import { shapePlayers } from "./media.js";
import { notifyButtons } from "./nudge.js";
import { presentation } from "./present.js";
import { confirmForms, copyButtons, foldFilters, hoverPlay } from "./widgets.js";

shapePlayers();
presentation();
followJobs();
notifyButtons();
followHistory();
copyButtons();
hoverPlay();
foldFilters();
confirmForms();
focusErrorSummary();
promptCounter();
sizePresets();
randomSeed();
modelProfiles();
estimates();
imagePreview();
submitOnce();
localTimes();
